export * from './queue-names';
export * from './queue-status';
export * from './queue-dashboard';
export * from './redis-connection';
export * from './schedulers';
export * from './run-worker';
export * from './job-outcomes';
export * from './sign-on-throttle';
