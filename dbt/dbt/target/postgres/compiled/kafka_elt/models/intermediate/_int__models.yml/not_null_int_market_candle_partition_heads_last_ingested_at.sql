
    
    



select last_ingested_at
from "warehouse"."analytics"."int_market_candle_partition_heads"
where last_ingested_at is null


