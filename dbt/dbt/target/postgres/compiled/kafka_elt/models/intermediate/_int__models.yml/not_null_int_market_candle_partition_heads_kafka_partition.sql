
    
    



select kafka_partition
from "warehouse"."analytics"."int_market_candle_partition_heads"
where kafka_partition is null


