
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

checked as (

    select * from "warehouse"."analytics"."latest_price"
    where reference_candle_started_at is not null

),

violations as (

    select * from checked
    where not coalesce(reference_candle_started_at <= latest_candle_started_at, false)

)

select * from violations


  
  
      
    ) dbt_internal_test