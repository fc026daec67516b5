
    
    



select candle_started_at
from "warehouse"."analytics"."market_candle"
where candle_started_at is null


