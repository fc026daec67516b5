
    
    



select trade_price
from "warehouse"."analytics"."market_candle"
where trade_price is null


