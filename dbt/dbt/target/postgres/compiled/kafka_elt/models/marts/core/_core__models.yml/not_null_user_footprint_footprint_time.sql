
    
    



select footprint_time
from "warehouse"."analytics"."user_footprint"
where footprint_time is null


