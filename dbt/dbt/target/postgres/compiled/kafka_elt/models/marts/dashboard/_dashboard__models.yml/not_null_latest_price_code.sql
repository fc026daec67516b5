
    
    



select code
from "warehouse"."analytics"."latest_price"
where code is null


