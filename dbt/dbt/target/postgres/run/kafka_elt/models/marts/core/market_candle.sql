
      -- back compat for old kwarg name
  
  
        
            
                
                
            
                
                
            
        
    

    

    merge into "warehouse"."analytics"."market_candle" as DBT_INTERNAL_DEST
        using "market_candle__dbt_tmp195614390725" as DBT_INTERNAL_SOURCE
        on (
                    DBT_INTERNAL_SOURCE.code = DBT_INTERNAL_DEST.code
                ) and (
                    DBT_INTERNAL_SOURCE.timestamp = DBT_INTERNAL_DEST.timestamp
                )

    
    when matched then update set
        "type" = DBT_INTERNAL_SOURCE."type","code" = DBT_INTERNAL_SOURCE."code","timestamp" = DBT_INTERNAL_SOURCE."timestamp","opening_price" = DBT_INTERNAL_SOURCE."opening_price","high_price" = DBT_INTERNAL_SOURCE."high_price","low_price" = DBT_INTERNAL_SOURCE."low_price","trade_price" = DBT_INTERNAL_SOURCE."trade_price","candle_acc_trade_volume" = DBT_INTERNAL_SOURCE."candle_acc_trade_volume","candle_acc_trade_price" = DBT_INTERNAL_SOURCE."candle_acc_trade_price","stream_type" = DBT_INTERNAL_SOURCE."stream_type","candle_started_at" = DBT_INTERNAL_SOURCE."candle_started_at","updated_at" = DBT_INTERNAL_SOURCE."updated_at","kafka_partition" = DBT_INTERNAL_SOURCE."kafka_partition","kafka_offset" = DBT_INTERNAL_SOURCE."kafka_offset","record_version" = DBT_INTERNAL_SOURCE."record_version","last_ingested_at" = DBT_INTERNAL_SOURCE."last_ingested_at"
    

    when not matched then insert
        ("type", "code", "timestamp", "opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume", "candle_acc_trade_price", "stream_type", "candle_started_at", "updated_at", "kafka_partition", "kafka_offset", "record_version", "last_ingested_at")
    values
        ("type", "code", "timestamp", "opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume", "candle_acc_trade_price", "stream_type", "candle_started_at", "updated_at", "kafka_partition", "kafka_offset", "record_version", "last_ingested_at")


  