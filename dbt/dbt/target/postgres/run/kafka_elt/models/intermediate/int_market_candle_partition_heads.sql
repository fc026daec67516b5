
      -- back compat for old kwarg name
  
  
        
            
                
                
            
                
                
            
                
                
            
        
    

    

    merge into "warehouse"."analytics"."int_market_candle_partition_heads" as DBT_INTERNAL_DEST
        using "int_market_candle_partition_heads__dbt_tmp195607570156" as DBT_INTERNAL_SOURCE
        on (
                    DBT_INTERNAL_SOURCE.code = DBT_INTERNAL_DEST.code
                ) and (
                    DBT_INTERNAL_SOURCE.candle_timestamp = DBT_INTERNAL_DEST.candle_timestamp
                ) and (
                    DBT_INTERNAL_SOURCE.kafka_partition = DBT_INTERNAL_DEST.kafka_partition
                )

    
    when matched then update set
        "code" = DBT_INTERNAL_SOURCE."code","candle_timestamp" = DBT_INTERNAL_SOURCE."candle_timestamp","kafka_partition" = DBT_INTERNAL_SOURCE."kafka_partition","kafka_offset" = DBT_INTERNAL_SOURCE."kafka_offset","candle_type" = DBT_INTERNAL_SOURCE."candle_type","opening_price" = DBT_INTERNAL_SOURCE."opening_price","high_price" = DBT_INTERNAL_SOURCE."high_price","low_price" = DBT_INTERNAL_SOURCE."low_price","trade_price" = DBT_INTERNAL_SOURCE."trade_price","candle_acc_trade_volume" = DBT_INTERNAL_SOURCE."candle_acc_trade_volume","candle_acc_trade_price" = DBT_INTERNAL_SOURCE."candle_acc_trade_price","stream_type" = DBT_INTERNAL_SOURCE."stream_type","candle_started_at" = DBT_INTERNAL_SOURCE."candle_started_at","produced_at" = DBT_INTERNAL_SOURCE."produced_at","latest_produced_at" = DBT_INTERNAL_SOURCE."latest_produced_at","last_ingested_at" = DBT_INTERNAL_SOURCE."last_ingested_at"
    

    when not matched then insert
        ("code", "candle_timestamp", "kafka_partition", "kafka_offset", "candle_type", "opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume", "candle_acc_trade_price", "stream_type", "candle_started_at", "produced_at", "latest_produced_at", "last_ingested_at")
    values
        ("code", "candle_timestamp", "kafka_partition", "kafka_offset", "candle_type", "opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume", "candle_acc_trade_price", "stream_type", "candle_started_at", "produced_at", "latest_produced_at", "last_ingested_at")


  