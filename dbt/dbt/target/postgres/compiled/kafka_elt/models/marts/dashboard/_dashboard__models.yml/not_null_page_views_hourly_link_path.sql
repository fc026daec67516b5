
    
    



select link_path
from "warehouse"."analytics"."page_views_hourly"
where link_path is null


