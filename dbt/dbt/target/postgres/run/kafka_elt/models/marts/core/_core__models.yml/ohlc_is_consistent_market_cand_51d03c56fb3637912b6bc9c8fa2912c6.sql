
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

bars as (

    select * from "warehouse"."analytics"."market_candle"

),

violations as (

    select * from bars
    where not coalesce(
        low_price <= least(opening_price, trade_price)
        and least(opening_price, trade_price) <= greatest(opening_price, trade_price)
        and greatest(opening_price, trade_price) <= high_price,
        false
    )

)

select * from violations


  
  
      
    ) dbt_internal_test