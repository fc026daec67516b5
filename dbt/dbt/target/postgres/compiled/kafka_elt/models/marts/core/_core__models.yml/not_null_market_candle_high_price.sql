
    
    



select high_price
from "warehouse"."analytics"."market_candle"
where high_price is null


