
    
    



select link_path
from "warehouse"."analytics"."user_footprint"
where link_path is null


