
    
    



select low_price
from "warehouse"."analytics"."market_candle"
where low_price is null


