
    
    



select code
from "warehouse"."analytics"."market_candle"
where code is null


