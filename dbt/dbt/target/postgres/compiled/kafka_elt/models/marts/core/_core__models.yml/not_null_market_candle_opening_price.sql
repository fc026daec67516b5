
    
    



select opening_price
from "warehouse"."analytics"."market_candle"
where opening_price is null


