
    
    



select code
from "warehouse"."analytics"."candle_ohlcv_hourly"
where code is null


