
    
    



select code
from "warehouse"."analytics"."int_market_candle_partition_heads"
where code is null


