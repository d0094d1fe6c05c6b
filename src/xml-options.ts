/**
 * How S3 XML is parsed everywhere in s3mux (requests from clients, answers from stores): no
 * type coercion and no trimming, so a key " 007 " stays " 007 "; entities and numeric
 * character references decoded; namespace prefixes dropped.
 */
import type { X2jOptions } from 'fast-xml-parser';

export const XML_PARSE_OPTIONS: Partial<X2jOptions> = {
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
};
