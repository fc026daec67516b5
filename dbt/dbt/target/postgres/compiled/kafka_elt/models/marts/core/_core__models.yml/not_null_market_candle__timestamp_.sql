
    
    



select "timestamp"
from "warehouse"."analytics"."market_candle"
where "timestamp" is null


