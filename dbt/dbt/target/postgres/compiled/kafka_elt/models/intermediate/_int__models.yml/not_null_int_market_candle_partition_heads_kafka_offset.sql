
    
    



select kafka_offset
from "warehouse"."analytics"."int_market_candle_partition_heads"
where kafka_offset is null


