export { createApp, type AppDeps, type RequestContext, type SoapRoute } from './create-app';
export { startServer, createLogger, type RunningServer } from './start-server';
export { soapRoutes } from './soap-routes';
