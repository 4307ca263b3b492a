local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = ''
if #newest > 0 then prev = newest[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[5], 'p', prev)
redis.call('PUBLISH', ARGV[1], id .. '\n' .. ARGV[5])
return id
