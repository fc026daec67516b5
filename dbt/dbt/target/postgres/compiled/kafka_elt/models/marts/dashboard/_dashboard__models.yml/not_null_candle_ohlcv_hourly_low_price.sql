
    
    



select low_price
from "warehouse"."analytics"."candle_ohlcv_hourly"
where low_price is null


