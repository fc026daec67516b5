
    
    



select page_view_count
from "warehouse"."analytics"."page_views_hourly"
where page_view_count is null


