
    
    



select page_view_count
from "warehouse"."analytics"."top_links_daily"
where page_view_count is null


