
    
    



select open_price
from "warehouse"."analytics"."candle_ohlcv_hourly"
where open_price is null


