
    
    



select link_path
from "warehouse"."analytics"."top_links_daily"
where link_path is null


