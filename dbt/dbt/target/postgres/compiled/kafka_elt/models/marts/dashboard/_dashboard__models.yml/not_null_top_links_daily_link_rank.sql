
    
    



select link_rank
from "warehouse"."analytics"."top_links_daily"
where link_rank is null


