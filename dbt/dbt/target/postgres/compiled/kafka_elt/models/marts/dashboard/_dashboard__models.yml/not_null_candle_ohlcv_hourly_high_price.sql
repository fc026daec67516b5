
    
    



select high_price
from "warehouse"."analytics"."candle_ohlcv_hourly"
where high_price is null


