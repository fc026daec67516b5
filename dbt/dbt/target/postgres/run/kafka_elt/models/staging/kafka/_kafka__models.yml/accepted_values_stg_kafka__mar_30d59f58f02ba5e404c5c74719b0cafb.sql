
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        stream_type as value_field,
        count(*) as n_records

    from (select * from "warehouse"."analytics"."stg_kafka__market_candles" where ingested_at >= now() - interval '1 hours') dbt_subquery
    group by stream_type

)

select *
from all_values
where value_field not in (
    'realtime','snapshot'
)



  
  
      
    ) dbt_internal_test