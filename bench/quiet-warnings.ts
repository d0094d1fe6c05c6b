/**
 * Imported first by run.ts, before the AWS SDK loads. On Node 20 the SDK warns that its
 * releases after January 2027 will need Node 22; that is noise in a benchmark, and the SDK
 * has a documented switch for it. Every other warning still prints.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
