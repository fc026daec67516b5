
    
    



select checksum
from "warehouse"."analytics"."mart_checksums"
where checksum is null


