
    
    



select visit_date
from "warehouse"."analytics"."page_views_hourly"
where visit_date is null


