
    
    



select visit_date
from "warehouse"."analytics"."top_links_daily"
where visit_date is null


