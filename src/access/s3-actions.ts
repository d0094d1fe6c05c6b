/**
 * Amazon S3's policy vocabulary: every action of the service prefix `s3`, the resource types it
 * applies to and the condition keys it supports, as the Service Authorization Reference lists them
 * ("Actions, resources, and condition keys for Amazon S3", taken September 2026), and the global
 * condition keys IAM defines for every service ("AWS global condition context keys"). A bucket policy
 * may name any of these actions, served by s3mux or not: they are valid policy text, and S3 refuses
 * everything else. PutBucketPolicy checks policies against this table (bucket-policy.ts); the
 * actions operations.ts authorizes are all in it (test/unit/s3-actions.test.ts).
 *
 * To update it, replace the rows below with the reference's current ones.
 */
import { wildcardRegExp } from './conditions';

/** The resource types of the reference's table (the ARN each names is in the reference too). */
export type ResourceType =
  | 'accessgrant'
  | 'accessgrantsinstance'
  | 'accessgrantslocation'
  | 'accesspoint'
  | 'accesspointobject'
  | 'bucket'
  | 'job'
  | 'multiregionaccesspoint'
  | 'multiregionaccesspointrequestarn'
  | 'object'
  | 'objectlambdaaccesspoint'
  | 'storagelensconfiguration'
  | 'storagelensgroup';

export interface S3Action {
  /** `s3:GetObject` ... */
  name: string;
  /** Empty: the action names no resource, so only `"Resource": "*"` covers it (s3:ListAllMyBuckets ...). */
  resourceTypes: readonly ResourceType[];
  /** The condition keys the action supports, lower-cased, tag keys as `/<key>` (s3:existingobjecttag/<key>). */
  conditionKeys: ReadonlySet<string>;
}

/**
 * One row an action: its name, its resource types (`-`: none) and its condition keys (without
 * `s3:`; `+` stands for the keys nearly every action has, COMMON_KEYS).
 */
const ROWS = `
AbortMultipartUpload                             accesspointobject,object         + AccessGrantsInstanceArn
AllowVendedLogDeliveryForResource                bucket                           deliverySourceArn logType resourceArnBeingAuthorized
AssociateAccessGrantsIdentityCenter              accessgrantsinstance             + aws:ResourceTag/<key>
BypassGovernanceRetention                        accesspointobject,object         + RequestObjectTag/<key> RequestObjectTagKeys x-amz-acl x-amz-copy-source x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp x-amz-metadata-directive x-amz-server-side-encryption x-amz-server-side-encryption-aws-kms-key-id x-amz-server-side-encryption-customer-algorithm x-amz-storage-class x-amz-website-redirect-location
CreateAccessGrant                                accessgrant                      + aws:RequestTag/<key> aws:ResourceTag/<key> aws:TagKeys AccessGrantScope
CreateAccessGrantsInstance                       accessgrantsinstance             + aws:RequestTag/<key> aws:ResourceTag/<key> aws:TagKeys
CreateAccessGrantsLocation                       accessgrantslocation             + aws:RequestTag/<key> aws:ResourceTag/<key> aws:TagKeys AccessGrantsLocationScope
CreateAccessPoint                                accesspoint                      + aws:RequestTag/<key> aws:ResourceTag/<key> aws:TagKeys AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn locationconstraint x-amz-acl
CreateAccessPointForObjectLambda                 objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
CreateBucket                                     bucket                           + aws:RequestTag/<key> aws:TagKeys locationconstraint x-amz-acl x-amz-bucket-namespace x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp x-amz-object-ownership
CreateBucketMetadataTableConfiguration           bucket                           +
CreateJob                                        -                                + aws:RequestTag/<key> aws:TagKeys RequestJobOperation RequestJobPriority
CreateMultiRegionAccessPoint                     multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
CreateStorageLensGroup                           -                                + aws:RequestTag/<key> aws:TagKeys
DeleteAccessGrant                                accessgrant                      + aws:ResourceTag/<key> AccessGrantScope
DeleteAccessGrantsInstance                       accessgrantsinstance             + aws:ResourceTag/<key>
DeleteAccessGrantsInstanceResourcePolicy         accessgrantsinstance             + aws:ResourceTag/<key>
DeleteAccessGrantsLocation                       accessgrantslocation             + aws:ResourceTag/<key> AccessGrantsLocationScope
DeleteAccessPoint                                accesspoint                      + aws:ResourceTag/<key> AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
DeleteAccessPointForObjectLambda                 objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
DeleteAccessPointPolicy                          accesspoint                      + aws:ResourceTag/<key> AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
DeleteAccessPointPolicyForObjectLambda           objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
DeleteBucket                                     bucket                           +
DeleteBucketMetadataTableConfiguration           bucket                           +
DeleteBucketPolicy                               bucket                           +
DeleteBucketWebsite                              bucket                           +
DeleteJobTagging                                 job                              + ExistingJobOperation ExistingJobPriority
DeleteMultiRegionAccessPoint                     multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
DeleteObject                                     accesspointobject,object         + AccessGrantsInstanceArn if-match
DeleteObjectAnnotation                           accesspointobject,object         + ExistingObjectTag/<key> x-amz-object-if-match
DeleteObjectTagging                              accesspointobject,object         + ExistingObjectTag/<key>
DeleteObjectVersion                              accesspointobject,object         + AccessGrantsInstanceArn versionid
DeleteObjectVersionAnnotation                    accesspointobject,object         + ExistingObjectTag/<key> versionid x-amz-object-if-match
DeleteObjectVersionTagging                       accesspointobject,object         + ExistingObjectTag/<key> versionid
DeleteStorageLensConfiguration                   storagelensconfiguration         +
DeleteStorageLensConfigurationTagging            storagelensconfiguration         +
DeleteStorageLensGroup                           storagelensgroup                 +
DescribeJob                                      job                              +
DescribeMultiRegionAccessPointOperation          multiregionaccesspointrequestarn ResourceAccount TlsVersion authType signatureAge signatureversion
DissociateAccessGrantsIdentityCenter             accessgrantsinstance             + aws:ResourceTag/<key>
GetAccelerateConfiguration                       bucket                           +
GetAccessGrant                                   accessgrant                      + aws:ResourceTag/<key> AccessGrantScope
GetAccessGrantsInstance                          accessgrantsinstance             + aws:ResourceTag/<key>
GetAccessGrantsInstanceForPrefix                 accessgrantsinstance             + aws:ResourceTag/<key>
GetAccessGrantsInstanceResourcePolicy            accessgrantsinstance             + aws:ResourceTag/<key>
GetAccessGrantsLocation                          accessgrantslocation             + aws:ResourceTag/<key> AccessGrantsLocationScope
GetAccessPoint                                   -                                + aws:ResourceTag/<key> AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
GetAccessPointConfigurationForObjectLambda       objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
GetAccessPointForObjectLambda                    objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
GetAccessPointPolicy                             accesspoint                      + aws:ResourceTag/<key> AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
GetAccessPointPolicyForObjectLambda              objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
GetAccessPointPolicyStatus                       accesspoint                      + aws:ResourceTag/<key> AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
GetAccessPointPolicyStatusForObjectLambda        objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
GetAccountPublicAccessBlock                      -                                +
GetAnalyticsConfiguration                        bucket                           +
GetBucketAbac                                    bucket                           +
GetBucketAcl                                     accesspoint,bucket               +
GetBucketCORS                                    accesspoint,bucket               +
GetBucketLocation                                accesspoint,bucket               +
GetBucketLogging                                 bucket                           +
GetBucketMetadataTableConfiguration              bucket                           +
GetBucketNotification                            accesspoint,bucket               +
GetBucketObjectLockConfiguration                 bucket                           ResourceAccount TlsVersion authType signatureAge signatureversion
GetBucketOwnershipControls                       bucket                           +
GetBucketPolicy                                  accesspoint,bucket               +
GetBucketPolicyStatus                            bucket                           +
GetBucketPublicAccessBlock                       bucket                           +
GetBucketRequestPayment                          bucket                           +
GetBucketTagging                                 bucket                           +
GetBucketVersioning                              bucket                           +
GetBucketWebsite                                 bucket                           +
GetDataAccess                                    accessgrantsinstance             + aws:ResourceTag/<key>
GetEncryptionConfiguration                       bucket                           +
GetIntelligentTieringConfiguration               bucket                           +
GetInventoryConfiguration                        bucket                           +
GetJobTagging                                    job                              +
GetLifecycleConfiguration                        bucket                           +
GetMetricsConfiguration                          bucket                           +
GetMultiRegionAccessPoint                        multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
GetMultiRegionAccessPointPolicy                  multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
GetMultiRegionAccessPointPolicyStatus            multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
GetMultiRegionAccessPointRoutes                  multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
GetObject                                        accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key>
GetObjectAcl                                     accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key>
GetObjectAnnotation                              accesspointobject,object         + ExistingObjectTag/<key>
GetObjectAttributes                              accesspointobject,object         + ExistingObjectTag/<key>
GetObjectLegalHold                               accesspointobject,object         +
GetObjectRetention                               accesspointobject,object         +
GetObjectTagging                                 accesspointobject,object         + ExistingObjectTag/<key>
GetObjectTorrent                                 object                           +
GetObjectVersion                                 accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key> versionid
GetObjectVersionAcl                              accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key> versionid
GetObjectVersionAnnotation                       accesspointobject,object         + ExistingObjectTag/<key> versionid
GetObjectVersionAnnotationForReplication         object                           +
GetObjectVersionAttributes                       accesspointobject,object         + ExistingObjectTag/<key> versionid
GetObjectVersionForReplication                   object                           +
GetObjectVersionTagging                          accesspointobject,object         + ExistingObjectTag/<key> versionid
GetObjectVersionTorrent                          object                           + versionid
GetReplicationConfiguration                      bucket                           +
GetStorageLensConfiguration                      storagelensconfiguration         +
GetStorageLensConfigurationTagging               storagelensconfiguration         +
GetStorageLensDashboard                          storagelensconfiguration         +
GetStorageLensGroup                              storagelensgroup                 +
InitiateReplication                              object                           ResourceAccount
ListAccessGrants                                 accessgrantsinstance             + aws:ResourceTag/<key>
ListAccessGrantsInstances                        -                                +
ListAccessGrantsLocations                        accessgrantsinstance             + aws:ResourceTag/<key>
ListAccessPoints                                 -                                +
ListAccessPointsForObjectLambda                  -                                +
ListAllMyBuckets                                 -                                +
ListBucket                                       accesspoint,bucket               + AccessGrantsInstanceArn delimiter max-keys prefix
ListBucketMultipartUploads                       bucket                           + aws:ResourceTag/<key> AccessGrantsInstanceArn AccessPointNetworkOrigin AccessPointTag/<key> DataAccessPointAccount DataAccessPointArn
ListBucketVersions                               accesspoint,bucket               + AccessGrantsInstanceArn delimiter max-keys prefix
ListCallerAccessGrants                           accessgrantsinstance             + aws:ResourceTag/<key>
ListJobs                                         -                                +
ListMultiRegionAccessPoints                      -                                ResourceAccount TlsVersion authType signatureAge signatureversion
ListMultipartUploadParts                         accesspointobject,object         + AccessGrantsInstanceArn
ListObjectAnnotations                            accesspointobject,object         + ExistingObjectTag/<key> annotation-prefix max-annotation-results
ListObjectVersionAnnotations                     accesspointobject,object         + ExistingObjectTag/<key> annotation-prefix max-annotation-results versionid
ListStorageLensConfigurations                    -                                +
ListStorageLensGroups                            -                                +
ListTagsForResource                              accessgrant,accessgrantsinstance,accessgrantslocation,accesspoint,bucket,storagelensgroup +
ObjectOwnerOverrideToBucketOwner                 object                           +
PauseReplication                                 bucket                           + destinationRegion
PutAccelerateConfiguration                       bucket                           +
PutAccessGrantsInstanceResourcePolicy            accessgrantsinstance             + aws:ResourceTag/<key>
PutAccessPointConfigurationForObjectLambda       objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
PutAccessPointPolicy                             accesspoint                      +
PutAccessPointPolicyForObjectLambda              objectlambdaaccesspoint          + AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn
PutAccessPointPublicAccessBlock                  -
PutAccountPublicAccessBlock                      -                                +
PutAnalyticsConfiguration                        bucket                           +
PutBucketAbac                                    bucket                           +
PutBucketAcl                                     bucket                           + x-amz-acl x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp
PutBucketCORS                                    bucket                           +
PutBucketLogging                                 bucket                           +
PutBucketNotification                            bucket                           +
PutBucketObjectLockConfiguration                 bucket                           ResourceAccount TlsVersion authType signatureAge signatureversion
PutBucketOwnershipControls                       bucket                           +
PutBucketPolicy                                  bucket                           +
PutBucketPublicAccessBlock                       bucket                           +
PutBucketRequestPayment                          bucket                           +
PutBucketTagging                                 bucket                           +
PutBucketVersioning                              bucket                           +
PutBucketWebsite                                 bucket                           +
PutEncryptionConfiguration                       bucket                           +
PutIntelligentTieringConfiguration               bucket                           +
PutInventoryConfiguration                        bucket                           + InventoryAccessibleOptionalFields
PutJobTagging                                    job                              + aws:RequestTag/<key> aws:TagKeys ExistingJobOperation ExistingJobPriority
PutLifecycleConfiguration                        bucket                           +
PutMetricsConfiguration                          bucket                           +
PutMultiRegionAccessPointPolicy                  multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
PutObject                                        accesspointobject,object         + AccessGrantsInstanceArn ObjectCreationOperation RequestObjectTag/<key> RequestObjectTagKeys if-match if-none-match object-lock-event-hold object-lock-event-hold-duration-days object-lock-legal-hold object-lock-mode object-lock-remaining-retention-days object-lock-retain-until-date x-amz-acl x-amz-copy-source x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp x-amz-metadata-directive x-amz-object-annotation-directive x-amz-server-side-encryption x-amz-server-side-encryption-aws-kms-key-id x-amz-server-side-encryption-customer-algorithm x-amz-storage-class x-amz-website-redirect-location
PutObjectAcl                                     accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key> x-amz-acl x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp x-amz-storage-class
PutObjectAnnotation                              accesspointobject,object         + ExistingObjectTag/<key> x-amz-object-if-match
PutObjectLegalHold                               accesspointobject,object         + object-lock-legal-hold
PutObjectRetention                               accesspointobject,object         + object-lock-event-hold object-lock-event-hold-duration-days object-lock-mode object-lock-remaining-retention-days object-lock-retain-until-date
PutObjectTagging                                 accesspointobject,object         + ExistingObjectTag/<key> RequestObjectTag/<key> RequestObjectTagKeys
PutObjectVersionAcl                              accesspointobject,object         + AccessGrantsInstanceArn ExistingObjectTag/<key> versionid x-amz-acl x-amz-grant-full-control x-amz-grant-read x-amz-grant-read-acp x-amz-grant-write x-amz-grant-write-acp x-amz-storage-class
PutObjectVersionAnnotation                       accesspointobject,object         + ExistingObjectTag/<key> versionid x-amz-object-if-match
PutObjectVersionTagging                          accesspointobject,object         + ExistingObjectTag/<key> RequestObjectTag/<key> RequestObjectTagKeys versionid
PutReplicationConfiguration                      bucket                           + isReplicationPauseRequest
PutStorageLensConfiguration                      -                                + aws:RequestTag/<key> aws:TagKeys
PutStorageLensConfigurationTagging               storagelensconfiguration         + aws:RequestTag/<key> aws:TagKeys
ReplicateDelete                                  object                           +
ReplicateObject                                  object                           + object-lock-event-hold object-lock-event-hold-duration-days x-amz-server-side-encryption x-amz-server-side-encryption-aws-kms-key-id x-amz-server-side-encryption-customer-algorithm
ReplicateObjectAnnotation                        object                           +
ReplicateTags                                    object                           +
RestoreObject                                    accesspointobject,object         +
SubmitMultiRegionAccessPointRoutes               multiregionaccesspoint           AccessPointNetworkOrigin DataAccessPointAccount DataAccessPointArn ResourceAccount TlsVersion authType signatureAge signatureversion
TagResource                                      accessgrant,accessgrantsinstance,accessgrantslocation,accesspoint,bucket,storagelensgroup + aws:RequestTag/<key> aws:TagKeys
UntagResource                                    accessgrant,accessgrantsinstance,accessgrantslocation,accesspoint,bucket,storagelensgroup + aws:TagKeys
UpdateAccessGrantsLocation                       accessgrantslocation             + aws:ResourceTag/<key> AccessGrantsLocationScope
UpdateBucketMetadataAnnotationTableConfiguration bucket                           +
UpdateBucketMetadataInventoryTableConfiguration  bucket                           +
UpdateBucketMetadataJournalTableConfiguration    bucket                           +
UpdateJobPriority                                job                              + ExistingJobOperation ExistingJobPriority RequestJobPriority
UpdateJobStatus                                  job                              + ExistingJobOperation ExistingJobPriority JobSuspendedCause
UpdateObjectEncryption                           accesspointobject,object         + ExistingObjectTag/<key> x-amz-server-side-encryption x-amz-server-side-encryption-aws-kms-key-id
UpdateStorageLensGroup                           storagelensgroup                 +
`;

const COMMON_KEYS = [
  's3:ResourceAccount',
  's3:TlsVersion',
  's3:authType',
  's3:signatureAge',
  's3:signatureversion',
  's3:x-amz-content-sha256',
];

/** Keys a resource type brings to every action on it. */
const RESOURCE_KEYS: Partial<Record<ResourceType, string[]>> = {
  bucket: ['aws:ResourceTag/<key>', 's3:BucketTag/<key>'],
  object: ['aws:ResourceTag/<key>', 's3:BucketTag/<key>'],
};

/** IAM's global condition keys (aws:*), valid in every policy whatever its actions. */
const GLOBAL_KEYS = [
  'aws:PrincipalArn',
  'aws:PrincipalAccount',
  'aws:PrincipalOrgPaths',
  'aws:PrincipalOrgID',
  'aws:PrincipalTag/<key>',
  'aws:PrincipalIsAWSService',
  'aws:PrincipalServiceName',
  'aws:PrincipalServiceNamesList',
  'aws:PrincipalType',
  'aws:userid',
  'aws:username',
  'aws:AssumedRoot',
  'aws:FederatedProvider',
  'aws:TokenIssueTime',
  'aws:MultiFactorAuthAge',
  'aws:MultiFactorAuthPresent',
  'aws:ChatbotSourceArn',
  'aws:Ec2InstanceSourceVpc',
  'aws:Ec2InstanceSourcePrivateIPv4',
  'aws:SourceIdentity',
  'aws:SourceIp',
  'aws:SourceVpc',
  'aws:SourceVpcArn',
  'aws:SourceVpce',
  'aws:VpceAccount',
  'aws:VpceOrgPaths',
  'aws:VpceOrgID',
  'aws:VpcSourceIp',
  'aws:ResourceAccount',
  'aws:ResourceOrgID',
  'aws:ResourceOrgPaths',
  'aws:ResourceTag/<key>',
  'aws:CalledVia',
  'aws:CalledViaFirst',
  'aws:CalledViaLast',
  'aws:ViaAWSService',
  'aws:CurrentTime',
  'aws:EpochTime',
  'aws:Referer',
  'aws:RequestedRegion',
  'aws:RequestTag/<key>',
  'aws:TagKeys',
  'aws:SecureTransport',
  'aws:SourceArn',
  'aws:SourceAccount',
  'aws:SourceOwner',
  'aws:SourceOrgPaths',
  'aws:SourceOrgID',
  'aws:UserAgent',
];

/** Keys that end in a name of the policy's choosing (a tag key): `s3:ExistingObjectTag/<key>`. */
const TAG_KEY = /^((?:aws|s3):[a-z]+tag)\/.+$/;

/** A condition key as the table holds it: lower-cased, a tag key's name replaced by `<key>`. */
export function tableKey(key: string): string {
  const lower = key.toLowerCase();
  const m = TAG_KEY.exec(lower);
  return m ? `${m[1]}/<key>` : lower;
}

function parseRows(): Map<string, S3Action> {
  const out = new Map<string, S3Action>();
  for (const line of ROWS.trim().split('\n')) {
    const [name, types, ...keys] = line.trim().split(/\s+/);
    const resourceTypes = types === '-' ? [] : (types.split(',') as ResourceType[]);
    const all = keys.flatMap((k) => (k === '+' ? COMMON_KEYS : [k.includes(':') ? k : `s3:${k}`]));
    for (const t of resourceTypes) all.push(...(RESOURCE_KEYS[t] ?? []));
    out.set(`s3:${name.toLowerCase()}`, { name: `s3:${name}`, resourceTypes, conditionKeys: new Set(all.map(tableKey)) });
  }
  return out;
}

/** Every S3 action, by its lower-cased name (`s3:getobject`). */
export const S3_ACTIONS: ReadonlyMap<string, S3Action> = parseRows();

const GLOBAL = new Set(GLOBAL_KEYS.map(tableKey));
const S3_KEYS = new Set([...S3_ACTIONS.values()].flatMap((a) => [...a.conditionKeys]).filter((k) => k.startsWith('s3:')));

/** A global key (aws:*), which applies to every action. */
export const isGlobalConditionKey = (key: string): boolean => GLOBAL.has(tableKey(key));

/** A key IAM or S3 defines (aws:SourceIp, s3:prefix, s3:ExistingObjectTag/<any tag> ...), case-insensitively. */
export const isConditionKey = (key: string): boolean => GLOBAL.has(tableKey(key)) || S3_KEYS.has(tableKey(key));

/**
 * The actions a policy's action (`s3:GetObject`, `s3:Get*`, `s3:*Object?`, `*`) stands for: `*`
 * any run of characters, `?` one, case-insensitively, as IAM matches actions. Empty: it names none.
 */
export function matchingActions(pattern: string): S3Action[] {
  const lower = pattern.toLowerCase();
  if (lower === '*') return [...S3_ACTIONS.values()];
  if (!/[*?]/.test(lower)) {
    const one = S3_ACTIONS.get(lower);
    return one ? [one] : [];
  }
  const re = wildcardRegExp(lower);
  return [...S3_ACTIONS.values()].filter((a) => re.test(a.name.toLowerCase()));
}
