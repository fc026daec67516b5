
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select checksum
from "warehouse"."analytics"."mart_checksums"
where checksum is null



  
  
      
    ) dbt_internal_test