
    
    



select candle_timestamp
from "warehouse"."analytics"."int_market_candle_partition_heads"
where candle_timestamp is null


