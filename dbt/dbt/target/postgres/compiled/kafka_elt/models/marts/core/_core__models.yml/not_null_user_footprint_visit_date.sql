
    
    



select visit_date
from "warehouse"."analytics"."user_footprint"
where visit_date is null


