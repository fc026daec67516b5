
      -- back compat for old kwarg name
  
  
        
            
                
                
            
                
                
            
                
                
            
        
    

    

    merge into "warehouse"."analytics"."user_footprint" as DBT_INTERNAL_DEST
        using "user_footprint__dbt_tmp195607520099" as DBT_INTERNAL_SOURCE
        on (
                    DBT_INTERNAL_SOURCE.kafka_topic = DBT_INTERNAL_DEST.kafka_topic
                ) and (
                    DBT_INTERNAL_SOURCE.kafka_partition = DBT_INTERNAL_DEST.kafka_partition
                ) and (
                    DBT_INTERNAL_SOURCE.kafka_offset = DBT_INTERNAL_DEST.kafka_offset
                )

    
    when matched then update set
        "footprint_id" = DBT_INTERNAL_SOURCE."footprint_id","kafka_topic" = DBT_INTERNAL_SOURCE."kafka_topic","kafka_partition" = DBT_INTERNAL_SOURCE."kafka_partition","kafka_offset" = DBT_INTERNAL_SOURCE."kafka_offset","link" = DBT_INTERNAL_SOURCE."link","request" = DBT_INTERNAL_SOURCE."request","footprint_time" = DBT_INTERNAL_SOURCE."footprint_time","link_path" = DBT_INTERNAL_SOURCE."link_path","visit_date" = DBT_INTERNAL_SOURCE."visit_date","produced_at" = DBT_INTERNAL_SOURCE."produced_at","ingested_at" = DBT_INTERNAL_SOURCE."ingested_at"
    

    when not matched then insert
        ("footprint_id", "kafka_topic", "kafka_partition", "kafka_offset", "link", "request", "footprint_time", "link_path", "visit_date", "produced_at", "ingested_at")
    values
        ("footprint_id", "kafka_topic", "kafka_partition", "kafka_offset", "link", "request", "footprint_time", "link_path", "visit_date", "produced_at", "ingested_at")


  