
    
    



select link
from "warehouse"."analytics"."user_footprint"
where link is null


