
    
    



select latest_candle_started_at
from "warehouse"."analytics"."latest_price"
where latest_candle_started_at is null


