
    
    



select request
from "warehouse"."analytics"."user_footprint"
where request is null


