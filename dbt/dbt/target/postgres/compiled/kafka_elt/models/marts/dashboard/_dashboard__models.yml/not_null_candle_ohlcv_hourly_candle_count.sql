
    
    



select candle_count
from "warehouse"."analytics"."candle_ohlcv_hourly"
where candle_count is null


