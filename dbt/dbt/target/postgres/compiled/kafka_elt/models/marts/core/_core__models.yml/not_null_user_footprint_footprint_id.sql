
    
    



select footprint_id
from "warehouse"."analytics"."user_footprint"
where footprint_id is null


