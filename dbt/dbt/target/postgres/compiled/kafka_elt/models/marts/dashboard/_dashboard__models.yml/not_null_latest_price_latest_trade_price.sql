
    
    



select latest_trade_price
from "warehouse"."analytics"."latest_price"
where latest_trade_price is null


