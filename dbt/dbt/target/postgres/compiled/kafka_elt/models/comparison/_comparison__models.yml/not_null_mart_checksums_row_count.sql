
    
    



select row_count
from "warehouse"."analytics"."mart_checksums"
where row_count is null


