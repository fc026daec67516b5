
    
    



select hour_started_at
from "warehouse"."analytics"."page_views_hourly"
where hour_started_at is null


