
    
    



select mart_name
from "warehouse"."analytics"."mart_checksums"
where mart_name is null


