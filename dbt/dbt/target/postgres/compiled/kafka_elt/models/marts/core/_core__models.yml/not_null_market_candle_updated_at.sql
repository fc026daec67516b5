
    
    



select updated_at
from "warehouse"."analytics"."market_candle"
where updated_at is null


