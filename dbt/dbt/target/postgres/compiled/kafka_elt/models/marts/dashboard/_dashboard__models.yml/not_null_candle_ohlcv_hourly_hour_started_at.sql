
    
    



select hour_started_at
from "warehouse"."analytics"."candle_ohlcv_hourly"
where hour_started_at is null


