
    
    



select latest_produced_at
from "warehouse"."analytics"."int_market_candle_partition_heads"
where latest_produced_at is null


