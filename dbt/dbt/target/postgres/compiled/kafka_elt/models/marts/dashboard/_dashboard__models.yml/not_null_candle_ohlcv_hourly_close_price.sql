
    
    



select close_price
from "warehouse"."analytics"."candle_ohlcv_hourly"
where close_price is null


